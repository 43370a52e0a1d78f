-- The TMS (Transport Management System) of the Velocity design: the source
-- tables the platform is fed from. Pickups, transport orders / shipments,
-- trips with their legs, stops, handling units and notes.
-- REPLICA IDENTITY FULL gives updates their before image, which the
-- business events (ShipmentStatusChanged {from, to}) and the no-op
-- detection of the net-change filter use.
DROP SCHEMA IF EXISTS tms CASCADE;
CREATE SCHEMA tms;
CREATE TABLE tms.shipment (
    id integer PRIMARY KEY,
    reference text NOT NULL,
    customer text NOT NULL,
    status text NOT NULL DEFAULT 'planned',  -- planned, dispatched, in_transit, delivered
    weight_kg numeric(10,2)
);
CREATE TABLE tms.pickup (id integer PRIMARY KEY, shipment_id integer NOT NULL, status text NOT NULL, window_start timestamptz);
CREATE TABLE tms.trip (id integer PRIMARY KEY, vehicle text NOT NULL, status text NOT NULL);
CREATE TABLE tms.leg (id integer PRIMARY KEY, trip_id integer NOT NULL, shipment_id integer NOT NULL, seq integer NOT NULL);
CREATE TABLE tms.stop (id integer PRIMARY KEY, shipment_id integer NOT NULL, seq integer NOT NULL, city text NOT NULL);
CREATE TABLE tms.handling_unit (id integer PRIMARY KEY, shipment_id integer NOT NULL, sscc text NOT NULL, weight_kg numeric(10,2));
CREATE TABLE tms.note (id integer PRIMARY KEY, shipment_id integer NOT NULL, body text NOT NULL);
ALTER TABLE tms.shipment REPLICA IDENTITY FULL;
ALTER TABLE tms.note REPLICA IDENTITY FULL;
