// The JSON body of POST /api/v1/train, checked field by field (server/api_train.cpp):
// {"epochs", "learning_rate", "unfreeze", "batch"?, "activate"?}. Declared here for
// the handler and for its fuzz target (tests/fuzz/fuzz_train_json.cpp).
#pragma once

#include "server/http.h"
#include "server/jobs.h"

namespace cxr::server {

// Throws HttpError: 415 for another Content-Type than application/json, 400
// malformed_json or bad_parameter naming the field and what it expects.
FineTuneParams parse_train_params(const Request& req);

}  // namespace cxr::server
