-- Run once by the mariadb image's entrypoint (as root) on an empty data volume.
-- Mirrors what scripts/services.sh provisions; the grants are Debezium's documented
-- ones for its MySQL/MariaDB connector.
CREATE DATABASE IF NOT EXISTS velocity;
CREATE DATABASE IF NOT EXISTS sink;
CREATE USER IF NOT EXISTS 'velocity'@'%' IDENTIFIED BY 'velocity';
CREATE USER IF NOT EXISTS 'velocity'@'localhost' IDENTIFIED BY 'velocity';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'velocity'@'%', 'velocity'@'localhost';
GRANT ALL PRIVILEGES ON velocity.* TO 'velocity'@'%', 'velocity'@'localhost';
GRANT ALL PRIVILEGES ON sink.* TO 'velocity'@'%', 'velocity'@'localhost';
FLUSH PRIVILEGES;
