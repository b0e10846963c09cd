-- An endpoint's latest deliveries, for the agency console's webhook settings: notifications
-- by recipient (an e-mail address or an endpoint id), newest first.
create index notification_recipient_idx on notification (recipient, created_at);
