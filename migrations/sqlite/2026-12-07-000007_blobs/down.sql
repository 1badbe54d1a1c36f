DROP TABLE upload_refs;
DROP TABLE blobs;
