#include "server/listener.h"

#include <boost/asio/strand.hpp>

namespace cxr::server {

namespace asio = boost::asio;

Listener::Listener(asio::io_context& ioc, const asio::ip::tcp::endpoint& endpoint, std::shared_ptr<ServerState> state)
    : ioc_(ioc), acceptor_(asio::make_strand(ioc)), state_(std::move(state)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void Listener::run() {
  asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void Listener::close() {
  asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
  });
}

void Listener::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [self = shared_from_this()](boost::system::error_code ec, asio::ip::tcp::socket socket) {
                           if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
                           if (!ec) start_session(std::move(socket), self->state_);
                           self->do_accept();
                         });
}

}  // namespace cxr::server
