// One HTTP connection: reads requests (with a read timeout and a 25 MB body
// limit), hands each to the handler pool, writes the reply, keeps the connection
// alive when the client asks to. Health and static files go to a pool of their own
// (server/quick_requests.h). An event-stream reply is followed by its events
// until the stream ends.
#pragma once

#include "server/app.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace cxr::server {

// What all sessions of a server share.
struct ServerState {
  // A constructor, not aggregate initialisation: make_shared with parentheses needs
  // one before C++20's P0960 (clang 14, used by the fuzz build, lacks it).
  ServerState(App& app, boost::asio::thread_pool& handlers, boost::asio::thread_pool& quick,
              std::chrono::seconds read_timeout)
      : app(app), handlers(handlers), quick(quick), read_timeout(read_timeout) {}

  App& app;
  boost::asio::thread_pool& handlers;
  boost::asio::thread_pool& quick;  // health and static files (server/quick_requests.h)
  std::chrono::seconds read_timeout;
  std::atomic<int> in_flight{0};  // requests whose header has arrived, not yet answered
  std::atomic<bool> draining{false};
};

void start_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state);

}  // namespace cxr::server
