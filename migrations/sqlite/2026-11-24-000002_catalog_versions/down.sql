DROP TABLE catalog_version_files;
DROP TABLE catalog_versions;
DROP TABLE catalog_blobs;
