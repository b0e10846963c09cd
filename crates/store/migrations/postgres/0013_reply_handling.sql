-- An agency's replies inbox: a reply is handled by one of the agency's people, with a note.
alter table reply add column handled_at text;
alter table reply add column handled_by text references person (person_id);
alter table reply add column handled_note text;

create index reply_agency_idx on reply (agency_id, reply_id);
