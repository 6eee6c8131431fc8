-- Run once after esign's migrations, before bench/pgbench_initiate*.sql: the row ids' source.
CREATE SEQUENCE bench_initiate_ids;
