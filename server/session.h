// One HTTP connection: reads requests (with a read timeout and a 25 MB body
// limit), hands each to the handler pool, writes the reply, keeps the connection
// alive when the client asks to. An event-stream reply is followed by its events
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
  App& app;
  boost::asio::thread_pool& handlers;
  std::chrono::seconds read_timeout;
  std::atomic<int> in_flight{0};  // requests whose header has arrived, not yet answered
  std::atomic<bool> draining{false};
};

void start_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state);

}  // namespace cxr::server
