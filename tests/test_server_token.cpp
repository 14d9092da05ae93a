// A chosen API token (`cxr serve` with $CXR_TOKEN, as a container's environment
// file gives it): it replaces the generated one, survives reopening the store, and
// a short one is refused with a clear error.
#include "data_fixtures.h"
#include "expect_error.h"

#include "server/store.h"

#include <gtest/gtest.h>

using namespace cxr;

TEST(ServerToken, ChosenTokenReplacesTheGeneratedOne) {
  test::TempDir dir;
  const std::string chosen = "a-token-from-an-environment-file";
  std::string generated;
  {
    server::Store store(dir.path());
    generated = store.create_token_if_missing().value();
    store.set_token(chosen);
    EXPECT_TRUE(store.token_matches(chosen));
    EXPECT_FALSE(store.token_matches(generated));
  }
  server::Store reopened(dir.path());
  EXPECT_FALSE(reopened.create_token_if_missing().has_value()) << "the store has a token: none is generated";
  EXPECT_TRUE(reopened.token_matches(chosen));
}

TEST(ServerToken, ChosenTokenOnANewStoreAndChangedAgain) {
  test::TempDir dir;
  server::Store store(dir.path());
  store.set_token("first-chosen-token-0001");
  store.set_token("second-chosen-token-0002");
  EXPECT_FALSE(store.token_matches("first-chosen-token-0001"));
  EXPECT_TRUE(store.token_matches("second-chosen-token-0002"));
}

TEST(ServerToken, ShortTokenIsRefused) {
  test::TempDir dir;
  server::Store store(dir.path());
  cxr::testing::expect_error_mentioning([&] { store.set_token("short"); }, {"at least 16 characters", "not 5"});
  EXPECT_FALSE(store.token_matches("short"));
}
