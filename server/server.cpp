#include "server/server.h"

#include "server/listener.h"

#include "base/check.h"

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <thread>
#include <vector>

namespace cxr::server {

namespace asio = boost::asio;

constexpr auto kDrainLimit = std::chrono::seconds(60);
// Health and static files (server/quick_requests.h): each answer takes well under a
// millisecond, two threads keep one slow disk read from holding up a probe.
constexpr std::size_t kQuickThreads = 2;

struct Server::Impl {
  Impl(App& app, const ServerOptions& options)
      : options(options),
        handlers(static_cast<std::size_t>(std::max(1, options.handler_threads))),
        quick(kQuickThreads),
        state(std::make_shared<ServerState>(app, handlers, quick, options.read_timeout)),
        work(asio::make_work_guard(ioc)) {}

  ServerOptions options;
  asio::io_context ioc;
  asio::thread_pool handlers;
  asio::thread_pool quick;
  std::shared_ptr<ServerState> state;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> io_threads;
  bool stopped = false;
};

Server::Server(App& app, const ServerOptions& options) : impl_(std::make_unique<Impl>(app, options)) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  CXR_CHECK(!ec, "serve: '{}' is not an IP address", options.host);
  try {
    impl_->listener =
        std::make_shared<Listener>(impl_->ioc, asio::ip::tcp::endpoint(address, options.port), impl_->state);
  } catch (const boost::system::system_error& e) {
    throw Error(fmt::format("serve: cannot listen on {}:{}: {}", options.host, options.port, e.code().message()));
  }
}

Server::~Server() {
  stop();
}

unsigned short Server::port() const {
  return impl_->listener->port();
}

void Server::start() {
  impl_->listener->run();
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i)
    impl_->io_threads.emplace_back([this] { impl_->ioc.run(); });
}

void Server::wait_for_signal() {
  asio::io_context signals_ioc;
  asio::signal_set signals(signals_ioc, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});
  signals_ioc.run();
  stop();
}

void Server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->listener->close();
  impl_->state->draining = true;
  const auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
  while (impl_->state->in_flight > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
  impl_->handlers.join();
  impl_->quick.join();
}

}  // namespace cxr::server
