(async () => { const u = "http://127.0.0.1:46301/metrics";
  const [a, b] = await Promise.all([fetch(u).then(r => r.text()), fetch(u).then(r => r.text())]);
  for (const t of [a, b]) console.log("p99 series:", (t.match(/^nodejs_eventloop_lag_p99_seconds /m) || ["absent"])[0], "max:", (t.match(/^nodejs_eventloop_lag_max_seconds .*/m) || ["absent"])[0]);
})();
