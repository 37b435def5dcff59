# The embedded default configuration: what `slardar` runs with no -config.
# It serves the quickstart: two example backends on 127.0.0.1:9001 and :9002
# (started by `make run`) behind the host "example.local".

listen   = ":8080"
data_dir = "./data"

admin {
  # Loopback only. A non-loopback address needs a token (admin.token or
  # SLARDAR_ADMIN_TOKEN), or slardar refuses to start.
  listen = "127.0.0.1:1995"
}

log {
  level  = "info"
  format = "console"
}

upstream "example.local" {
  servers = [
    { host = "127.0.0.1", port = 9001, weight = 1 },
    { host = "127.0.0.1", port = 9002, weight = 2 },
  ]
  check = { type = "http", path = "/health", interval = 2, timeout = 1 }
}
