-- Letters held until a time (`send_after`): a batch is not sent before `not_before`, and until
-- then it can be cancelled ('cancelled', its rows too).
alter table letter_batch add column not_before text;
