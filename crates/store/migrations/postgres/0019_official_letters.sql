-- Official letters: urgent letters (ชั้นความเร็ว) go into the next print batch first, by
-- priority (3 ด่วนที่สุด or ด่วนภายใน, 2 ด่วนมาก, 1 ด่วน, 0 none); classified letters (ลับ,
-- ลับมาก) are taken only from agencies allowed to send them.
alter table letter add column priority bigint not null default 0;
alter table agency add column allow_classified bigint not null default 0;
create index letter_print_queue_idx on letter (status, test, priority, postcode);
