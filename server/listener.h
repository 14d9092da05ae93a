// Accepts connections and starts a session on its own strand for each.
#pragma once

#include "server/session.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace cxr::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens; throws boost::system::system_error when it cannot.
  Listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
           std::shared_ptr<ServerState> state);
  void run();
  void close();  // stops accepting (call on the listener's strand or before run)
  unsigned short port() const { return port_; }

 private:
  void do_accept();

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<ServerState> state_;
  unsigned short port_ = 0;
};

}  // namespace cxr::server
