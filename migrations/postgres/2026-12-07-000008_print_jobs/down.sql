DROP TABLE print_files;
DROP TABLE print_jobs;
