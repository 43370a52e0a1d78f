-- Run once by the postgres image's entrypoint (as the postgres superuser) on an empty
-- data volume. Mirrors what scripts/services.sh provisions for local runs.
CREATE ROLE velocity WITH LOGIN REPLICATION PASSWORD 'velocity';
CREATE DATABASE velocity OWNER velocity;
CREATE DATABASE sink OWNER velocity;
