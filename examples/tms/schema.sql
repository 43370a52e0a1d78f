-- A small Transport Management System schema for the demo.
DROP SCHEMA IF EXISTS tms CASCADE;
CREATE SCHEMA tms;
CREATE TYPE tms.shipment_status AS ENUM ('planned', 'dispatched', 'in_transit', 'delivered');
CREATE TABLE tms.carrier (id serial PRIMARY KEY, name text NOT NULL, scac char(4));
CREATE TABLE tms.shipment (
    id bigserial PRIMARY KEY,
    reference varchar(32) NOT NULL UNIQUE,
    carrier_id integer REFERENCES tms.carrier (id),
    status tms.shipment_status NOT NULL DEFAULT 'planned',
    weight_kg numeric(10,2),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE tms.note (id integer PRIMARY KEY, shipment_id bigint, body text);
INSERT INTO tms.carrier (name, scac) VALUES ('Acme Freight', 'ACME'), ('Blue Line', 'BLUE');
INSERT INTO tms.shipment (reference, carrier_id, weight_kg) VALUES ('SHP-1', 1, 120.50), ('SHP-2', 2, 80.00);
