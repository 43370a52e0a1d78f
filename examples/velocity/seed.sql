-- The TMS before Velocity starts (published by the snapshot).
INSERT INTO tms.shipment VALUES (1, 'SHP-1', 'Acme', 'planned', 120.50), (2, 'SHP-2', 'Globex', 'planned', 80.00);
INSERT INTO tms.pickup VALUES (1, 1, 'scheduled', '2026-11-25 08:00:00+00');
INSERT INTO tms.trip VALUES (1, 'TRUCK-7', 'open');
INSERT INTO tms.leg VALUES (1, 1, 1, 1), (2, 1, 2, 2);
INSERT INTO tms.stop VALUES (1, 1, 1, 'Milan'), (2, 1, 2, 'Rome'), (3, 2, 1, 'Turin');
INSERT INTO tms.handling_unit VALUES (1, 1, '00012345600000000017', 60.25), (2, 1, '00012345600000000024', 60.25);
INSERT INTO tms.note VALUES (1, 1, 'call before delivery');
