-- wrk script: POST /v1/letters with the documented example letter.
-- The API key comes from the environment (HYBRIDPOST_BENCH_KEY).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("HYBRIDPOST_BENCH_KEY")
wrk.body = [[{"reference": "มท 0808.2/ว 1234", "language": "th",
  "recipient": {"name": "นายสมชาย ใจดี", "citizen_id": "1101700230708",
    "address": {"house_number": "99", "moo": "4", "soi": "สุขใจ", "road": "พหลโยธิน",
      "subdistrict": "สามเสนใน", "district": "พญาไท", "province": "กรุงเทพมหานคร", "postcode": "10400"}},
  "subject": "แจ้งผลการพิจารณาคำขอ",
  "body": ["ตามที่ท่านได้ยื่นคำขอ ... ขอแจ้งผลการพิจารณาให้ทราบ"],
  "reply": {"deadline": "2099-01-31"}}]]

-- No response() hook: wrk counts non-2xx answers in summary.errors.status, and a hook would
-- cost the load generator time per request on the same two cores as the server.
done = function(summary, latency, requests)
  -- One JSON line for ops/bench/letters.sh to collect.
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "requests_per_s": %.1f, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
