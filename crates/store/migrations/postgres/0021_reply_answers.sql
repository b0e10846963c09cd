-- The answer read from a reply's tick boxes, as JSON (status, choice, confidence, each box's
-- measures, or why a person must look); null for a reply with no question on it.
alter table reply add column answer text;
