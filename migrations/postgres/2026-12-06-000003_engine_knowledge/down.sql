DROP TABLE engine_knowledge;
