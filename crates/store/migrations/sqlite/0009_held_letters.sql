-- Letters waiting for print that cannot move on by themselves, and the alarm raised for each:
-- its render failed (held until the agency retries), no print site serves its postcode, or it
-- has waited longer than print_alarm_after_hours. A letter has at most one row per reason; an
-- alarm is raised (with its event and webhook) when its row is opened, so never twice while it
-- stands, and cleared when the letter moves on.
create table letter_alarm (
    letter_id text not null references letter (letter_id),
    agency_id text not null references agency (agency_id),
    -- render_failed, unroutable or print_overdue (also the kind of the event that raised it).
    reason text not null,
    -- Why, in words for the agency (the render error), when there is more to say.
    detail text,
    -- Since when the letter has been stuck for this reason.
    since text not null,
    -- When it moved on (retried, routed, batched, cancelled); null while the alarm stands.
    cleared_at text,
    created_at text not null,
    primary key (letter_id, reason)
);

create index letter_alarm_open_idx on letter_alarm (cleared_at, reason);

-- Letters held before this table existed are listed too.
insert into letter_alarm (letter_id, agency_id, reason, detail, since, created_at)
select letter_id, agency_id, 'render_failed', print_hold, updated_at, updated_at from letter
where status = 'queued_for_print' and print_hold is not null;
