-- Prices the agency's administrator sets for the usage report's cost estimate, in satang
-- (hundredths of a baht); unset, the report shows no estimate.
alter table agency add column price_letter_satang bigint;
alter table agency add column price_sheet_satang bigint;
alter table agency add column price_email_satang bigint;
