// The requests answered on a pool of their own, never queued behind the handler
// threads: GET and HEAD of /api/v1/health and of every path outside /api/ (the
// browser UI's static files, /docs/openapi.yaml). None of them waits on inference,
// a decode slot, the store or a job, so a server whose handler threads all wait on
// decodes or the inference queue still answers a health probe or a page at once.
#pragma once

#include "server/http.h"

namespace cxr::server {

bool is_quick_request(const Request& req);

}  // namespace cxr::server
