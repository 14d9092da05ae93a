#include "server/session.h"

#include "server/access_log.h"
#include "server/quick_requests.h"
#include "server/router.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>

namespace cxr::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

constexpr auto kEventPoll = std::chrono::milliseconds(100);

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state)
      : stream_(std::move(socket)), state_(std::move(state)), timer_(stream_.get_executor()) {}

  void run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    if (state_->draining) return close();
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(state_->read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  // A request is in flight from its header on: stop() waits for its answer, so a
  // SIGTERM during an upload lets the upload finish (within the read timeout).
  void on_header(beast::error_code ec, std::size_t bytes) {
    if (ec) return on_read(ec, bytes);
    begin_request();
    const auto& head = parser_->get();
    log_.begin(std::string(head.method_string()), head.target());
    // A client that waits for "100 Continue" before sending its body (curl does, for
    // large uploads) gets it now rather than after its own timeout.
    if (beast::iequals(head[http::field::expect], "100-continue") && head.version() >= 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit)
      return write(error_response(11, false, http::status::payload_too_large, "body_too_large",
                                  "the request body exceeds the 25 MB limit"));
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
      return write(error_response(11, false, http::status::bad_request, "bad_request",
                                  "malformed HTTP request: " + ec.message()));
    if (ec) return close();

    stream_.expires_never();
    auto& pool = is_quick_request(parser_->get()) ? state_->quick : state_->handlers;
    asio::post(pool, [self = shared_from_this(), req = parser_->release()]() mutable {
      Reply reply = handle(self->state_->app, req);
      asio::post(self->stream_.get_executor(), [self, reply = std::move(reply)]() mutable {
        self->events_ = std::move(reply.events);
        self->write(std::move(reply.response));
      });
    });
  }

  void begin_request() {
    ++state_->in_flight;
    counted_ = true;
  }
  void end_request() {
    if (counted_) --state_->in_flight;
    counted_ = false;
  }

  void write(Response response) {
    response_ = std::move(response);
    add_security_headers(response_);
    if (state_->draining) response_.keep_alive(false);
    stream_.expires_after(state_->read_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->log_.end(self->response_.result_int(), self->response_.body().size());
      self->end_request();
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    if (ec) return close();
    if (events_) return poll_events();
    if (!response_.keep_alive()) return parser_ && !parser_->is_done() ? drain_then_close() : close();
    do_read();
  }

  // Event streams: poll the source, write what is new, stop when it has ended.
  void poll_events() {
    if (state_->draining) return close();
    pending_.clear();
    const bool more = events_->poll(cursor_, pending_);
    if (!pending_.empty()) {
      stream_.expires_after(state_->read_timeout);
      asio::async_write(stream_, asio::buffer(pending_),
                        [self = shared_from_this(), more](beast::error_code ec, std::size_t) {
                          if (ec || !more) return self->close();
                          self->wait_then_poll();
                        });
      return;
    }
    if (!more) return close();
    wait_then_poll();
  }

  void wait_then_poll() {
    timer_.expires_after(kEventPoll);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->poll_events();
    });
  }

  // After refusing a request whose body was not read: stop sending, then read and
  // discard what the client still sends for a moment, so that closing does not
  // reset the connection before the client has read the answer.
  void drain_then_close() {
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    drain_.resize(64 * 1024);
    stream_.async_read_some(asio::buffer(drain_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > 2 * kBodyLimit) return self->close();
      self->drain_then_close();
    });
  }

  void close() {
    end_request();
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  std::shared_ptr<EventStream> events_;
  std::size_t cursor_ = 0;
  std::string pending_;
  std::vector<char> drain_;
  std::size_t drained_ = 0;
  bool counted_ = false;  // this connection's request is counted in state_->in_flight
  AccessLog log_;
  asio::steady_timer timer_;
};

}  // namespace

void start_session(asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state) {
  // Answers are written whole: Nagle's algorithm would only hold their last segment
  // back until the client's (possibly delayed) acknowledgement of the others.
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  std::make_shared<Session>(std::move(socket), std::move(state))->run();
}

}  // namespace cxr::server
