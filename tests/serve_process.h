// `cxr serve` as a child process for the tests that signal or kill it: the binary
// from $CXR_BINARY (set by tests/CMakeLists.txt), stdout and stderr in a log file,
// the port and the first-start API token read from its banner.
#pragma once

#include "data_fixtures.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace cxr::test {

class ServeProcess {
 public:
  // Starts `cxr serve <args>` and waits (up to 60 s) for it to listen.
  ServeProcess(const std::vector<std::string>& args, const std::filesystem::path& log) : log_(log) {
    const char* binary = std::getenv("CXR_BINARY");
    if (binary == nullptr || !std::filesystem::exists(binary))
      throw std::runtime_error("CXR_BINARY does not name the built cxr program");
    std::vector<std::string> argv{binary, "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, binary, &actions, nullptr, raw.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn of cxr serve failed");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      const std::string out = output();
      constexpr std::string_view banner = "cxr serve: http://127.0.0.1:";
      const auto at = out.find(banner);
      if (at != std::string::npos && out.find('/', at + banner.size()) != std::string::npos) {
        port_ = static_cast<unsigned short>(std::stoi(out.substr(at + banner.size())));
        constexpr std::string_view token = "(shown once, keep it):\n  ";
        if (const auto t = out.find(token); t != std::string::npos) token_ = out.substr(t + token.size(), 64);
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        throw std::runtime_error("cxr serve exited at start: " + out);
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("cxr serve did not start: " + out);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  void signal(int sig) const { ::kill(pid_, sig); }
  // signal(sig), then wait().
  int stop(int sig) {
    signal(sig);
    return wait();
  }

  // Waits for the exit (SIGKILL after `limit`); the waitpid status.
  int wait(std::chrono::seconds limit = std::chrono::seconds(60)) {
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = 0;
    return status;
  }

  unsigned short port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& token() const { return token_; }  // empty unless this start created the store
  std::string output() const { return read_file(log_); }

 private:
  std::filesystem::path log_;
  pid_t pid_ = 0;
  unsigned short port_ = 0;
  std::string token_;
};

}  // namespace cxr::test
