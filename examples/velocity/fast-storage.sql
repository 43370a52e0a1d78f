-- The fast storage the materializing sink writes (the MicroBatch step):
-- one shipment object across three tables. Each table's key is the
-- materialize.<alias>.key of its mapping (a primary key, for ON CONFLICT).
DROP SCHEMA IF EXISTS fast CASCADE;
CREATE SCHEMA fast;
CREATE TABLE fast.shipment (
    shipment_id integer PRIMARY KEY,
    reference text NOT NULL,
    customer text NOT NULL,
    status text NOT NULL,
    label text
);
CREATE TABLE fast.shipment_stop (
    stop_id integer PRIMARY KEY,
    shipment_id integer NOT NULL,
    seq integer NOT NULL,
    city text NOT NULL
);
-- goods information: handling units and notes of a shipment
CREATE TABLE fast.load_item (
    item_id text PRIMARY KEY,          -- 'HU-<id>' or 'NOTE-<id>'
    shipment_id integer NOT NULL,
    kind text NOT NULL,                -- handling_unit or note
    description text
);
-- The objects the fast storage must hold, computed from the TMS tables
-- (used by scripts and tests to compare, row for row).
CREATE OR REPLACE VIEW fast.expected_shipment AS
  SELECT id AS shipment_id, reference, customer, status, reference || ' (' || status || ')' AS label FROM tms.shipment;
CREATE OR REPLACE VIEW fast.expected_shipment_stop AS
  SELECT id AS stop_id, shipment_id, seq, city FROM tms.stop;
CREATE OR REPLACE VIEW fast.expected_load_item AS
  SELECT 'HU-' || id AS item_id, shipment_id, 'handling_unit' AS kind, sscc || ' ' || coalesce(weight_kg::text, '?') || ' kg' AS description FROM tms.handling_unit
  UNION ALL
  SELECT 'NOTE-' || id, shipment_id, 'note', body FROM tms.note;
