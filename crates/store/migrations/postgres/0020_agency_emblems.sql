-- An agency's emblem (ตราครุฑ), printed at the top of page 1 of its official letters: the key of
-- its PNG in blob storage, as checked and normalised when it was set; null for none.
alter table agency add column emblem_key text;
