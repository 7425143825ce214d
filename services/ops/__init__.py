"""Operations: readiness checks (`health`), Prometheus metrics (`metrics`) and JSON log lines
(`logs`). The request-bound parts (routes, request ids, the per-request hooks) are in
blueprints/ops/."""
