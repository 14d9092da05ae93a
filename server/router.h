// The request router: a pure function from a request to a reply. It decides by
// method and path, calls an API handler or serves a static file, and turns every
// HttpError (and any other exception) into a JSON error response; it never throws.
#pragma once

#include "server/app.h"
#include "server/http.h"

#include <memory>
#include <string>

namespace cxr::server {

// A Server-Sent Events body that grows while a job runs. The session writes the
// response head, then appends what poll() returns until it reports the end.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Appends the events after `cursor` (advancing it) to `out`; false once the
  // stream is over and everything has been returned.
  virtual bool poll(std::size_t& cursor, std::string& out) = 0;
};

struct Reply {
  Response response;
  std::shared_ptr<EventStream> events;  // set: response is the head of an event stream
};

Reply handle(App& app, const Request& req);

}  // namespace cxr::server
