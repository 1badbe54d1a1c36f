DROP TABLE history_sales;
DROP TABLE history_imports;
DROP TABLE history_counters;
