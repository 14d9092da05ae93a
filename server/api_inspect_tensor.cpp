// GET /api/v1/inspect/step/{id}/tensor: one whole tensor of a training step that
// POST /api/v1/inspect/step kept (server/inspected_steps.h), for the Inside page's
// tensor view. ?node=N&kind=output|gradient names an op's output or the loss's
// gradient with respect to it; ?leaf=L&kind=value|gradient|after a leaf's value
// before the update, its gradient or its value after (parameters). The answer holds
// the values at flat indices [offset, offset + count) (default the whole tensor) and
// the statistics and 32-bin histogram of all its values.
//
// Read-only and bounded like the other inspection endpoints: it only reads a kept
// step, and one answer holds at most kMaxServedValues values (about 1.3 MB of JSON);
// a larger range is refused (400 range_too_large), never cut short.
#include "server/api.h"

#include "models/inspection_json.h"
#include "models/value_stats.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

namespace cxr::server {

namespace {

constexpr std::int64_t kMaxServedValues = std::int64_t{1} << 16;  // a 256 x 256 plane
constexpr int kTensorHistogramBins = 32;

// A non-negative integer query parameter; nullopt when absent; 400 when not a number.
std::optional<std::int64_t> count_param(const Target& target, const std::string& name) {
  const auto text = target.param(name);
  if (!text) return std::nullopt;
  std::int64_t value = -1;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc{} || end != text->data() + text->size() || value < 0)
    throw HttpError(http::status::bad_request, "bad_parameter",
                    fmt::format("{}='{}' is not a non-negative integer", name, *text));
  return value;
}

// The kept tensor the query names, or a clear 4xx.
const KeptTensor& named_tensor(const StepInspection& step, const Target& target, json::object& out) {
  const auto node = count_param(target, "node"), leaf = count_param(target, "leaf");
  if (node.has_value() == leaf.has_value())
    throw HttpError(http::status::bad_request, "bad_parameter", "give node=N or leaf=L (one of them)");
  const std::string kind = target.param("kind").value_or(node ? "output" : "value");
  out["kind"] = kind;
  if (node) {
    const auto& nodes = step.trace.nodes();
    if (*node >= static_cast<std::int64_t>(nodes.size()))
      throw HttpError(http::status::not_found, "unknown_node",
                      fmt::format("no node {}: the step has nodes 0 to {}", *node, nodes.size() - 1));
    out["node"] = *node;
    const TracedNode& n = nodes[static_cast<std::size_t>(*node)];
    if (kind == "output") return n.whole_output;
    if (kind == "gradient") return n.whole_gradient;
    throw HttpError(http::status::bad_request, "bad_kind", "a node's kind is output or gradient");
  }
  if (*leaf >= static_cast<std::int64_t>(step.leaf_tensors.size()))
    throw HttpError(http::status::not_found, "unknown_leaf",
                    fmt::format("no leaf {}: the step has leaves 0 to {}", *leaf, step.leaf_tensors.size() - 1));
  out["leaf"] = *leaf;
  const auto& l = step.leaf_tensors[static_cast<std::size_t>(*leaf)];
  if (kind == "value") return l.value;
  if (kind == "gradient") return l.gradient;
  if (kind == "after") return l.after;
  throw HttpError(http::status::bad_request, "bad_kind", "a leaf's kind is value, gradient or after");
}

}  // namespace

Response get_inspect_tensor(App& app, const Request& req, const std::string& step_id, const Target& target) {
  const auto step = app.inspected_steps.find(step_id);
  if (!step)
    throw HttpError(http::status::not_found, "unknown_step",
                    fmt::format("step '{}' is not kept: the server keeps the tensors of its last {} steps; run the "
                                "step again",
                                step_id, kKeptSteps));
  json::object body{{"step", step_id}};
  const KeptTensor& kept = named_tensor(*step, target, body);
  if (!kept.kept())
    throw HttpError(http::status::not_found, "tensor_not_kept",
                    kept.reason.empty() ? "not recorded: the backward sweep did not reach it" : kept.reason);
  const Tensor& t = kept.value;
  const std::int64_t numel = t.numel();
  const std::int64_t offset = count_param(target, "offset").value_or(0);
  if (offset > numel)
    throw HttpError(http::status::bad_request, "bad_range", fmt::format("offset {} past the {} values", offset, numel));
  const std::int64_t count = count_param(target, "count").value_or(numel - offset);
  if (count > kMaxServedValues)
    throw HttpError(
        http::status::bad_request, "range_too_large",
        fmt::format("{} values asked for; at most {} an answer (use offset and count)", count, kMaxServedValues));
  if (count > numel - offset)
    throw HttpError(http::status::bad_request, "bad_range",
                    fmt::format("offset {} + count {} past the {} values", offset, count, numel));
  json::array values;
  values.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = offset; i < offset + count; ++i) values.push_back(t.at(i));
  body["shape"] = json::value_from(t.shape());
  body["dtype"] = std::string(dtype_name(t.dtype()));
  body["numel"] = numel;
  body["offset"] = offset;
  body["count"] = count;
  body["max_count"] = kMaxServedValues;
  body["values"] = std::move(values);
  body["stats"] = to_json(value_stats(t, kTensorHistogramBins));
  return json_response(req, http::status::ok, body);
}

}  // namespace cxr::server
