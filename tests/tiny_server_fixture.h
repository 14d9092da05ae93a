// A server on a loopback port with the tiny test model, the source tree's web/ and
// OpenAPI document, and no store: the fixture of the API tests that need no token.
#pragma once

#include "server_harness.h"

#include "server/inference.h"
#include "server/server.h"

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace cxr::test {

class TinyServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto served = std::make_shared<server::ServedModel>();
    served->version = "test";
    served->model = tiny_model();
    inference_ = std::make_unique<server::InferenceService>(served);
    app_.inference = inference_.get();
    const std::filesystem::path source = std::getenv("CXR_SOURCE_DIR") ? std::getenv("CXR_SOURCE_DIR") : ".";
    app_.web_root = source / "web";
    app_.openapi = source / "docs" / "openapi.yaml";
    server::ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<server::Server>(app_, options);
    server_->start();
    port_ = server_->port();
  }
  void TearDown() override {
    server_->stop();
    server_.reset();
    inference_.reset();
  }

  server::App app_;
  std::unique_ptr<server::InferenceService> inference_;
  std::unique_ptr<server::Server> server_;
  unsigned short port_ = 0;
};

}  // namespace cxr::test
