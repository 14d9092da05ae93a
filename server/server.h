// The HTTP server: a listener accepting connections, one session per connection
// (Boost.Beast, asynchronous, on a small I/O thread pool), and a pool of handler
// threads where requests are routed and answered, so that no I/O thread ever waits
// on inference, the store or a file. Health probes and static files have two
// threads of their own, so they never wait behind predictions (server/quick_requests.h).
//
// stop() (and SIGINT/SIGTERM through wait_for_signal) stops accepting, lets the
// requests in flight (those whose header has arrived, uploads included) finish and
// be written, for at most a minute, then closes every connection.
#pragma once

#include "server/app.h"

#include <chrono>
#include <memory>
#include <string>

namespace cxr::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;  // 0: an ephemeral port (tests)
  int io_threads = 1;
  int handler_threads = 16;  // requests handled at once (a predict waits on the inference queue)
  std::chrono::seconds read_timeout{30};
};

class Server {
 public:
  // Binds and listens; throws cxr::Error when the address cannot be used.
  Server(App& app, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;
  void start();            // starts the I/O threads and returns
  void wait_for_signal();  // blocks until SIGINT or SIGTERM, then stop()
  void stop();             // idempotent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxr::server
