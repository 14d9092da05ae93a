#include "models/json_fields.h"

#include "base/check.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace cxr::json_fields {

namespace json = boost::json;

namespace {

bool has_containers(const json::value& v) {
  if (v.is_array())
    return std::any_of(v.get_array().begin(), v.get_array().end(),
                       [](const auto& e) { return e.is_object() || e.is_array(); });
  return std::any_of(v.get_object().begin(), v.get_object().end(),
                     [](const auto& kv) { return kv.value().is_object() || kv.value().is_array(); });
}

// One line: doubles in shortest decimal form ("0.3", not Boost's "3E-1"), non-finite as null.
void compact(std::string& out, const json::value& v) {
  if (v.is_double()) {
    out += std::isfinite(v.get_double()) ? fmt::format("{}", v.get_double()) : "null";
  } else if (v.is_array()) {
    out += "[";
    for (std::size_t i = 0; i < v.get_array().size(); ++i) {
      if (i) out += ", ";
      compact(out, v.get_array()[i]);
    }
    out += "]";
  } else if (v.is_object()) {
    out += "{";
    std::size_t i = 0;
    for (const auto& kv : v.get_object()) {
      if (i++) out += ", ";
      out += json::serialize(json::string(kv.key())) + ": ";
      compact(out, kv.value());
    }
    out += "}";
  } else {
    out += json::serialize(v);
  }
}

// Containers of scalars that fit on a line stay on one line.
void pretty(std::string& out, const json::value& v, int indent) {
  if (!(v.is_object() || v.is_array())) return compact(out, v);
  std::string line;
  compact(line, v);
  if (!has_containers(v) && indent + line.size() <= 100) {
    out += line;
    return;
  }
  const std::string pad(indent + 2, ' '), end_pad(indent, ' ');
  if (v.is_object()) {
    out += "{\n";
    std::size_t i = 0;
    for (const auto& kv : v.get_object()) {
      out += pad + json::serialize(json::string(kv.key())) + ": ";
      pretty(out, kv.value(), indent + 2);
      out += ++i < v.get_object().size() ? ",\n" : "\n";
    }
    out += end_pad + "}";
  } else {
    const auto& a = v.get_array();
    out += "[\n";
    for (std::size_t i = 0; i < a.size(); ++i) {
      out += pad;
      pretty(out, a[i], indent + 2);
      out += i + 1 < a.size() ? ",\n" : "\n";
    }
    out += end_pad + "]";
  }
}

}  // namespace

std::string pretty_json(const json::value& v) {
  std::string out;
  pretty(out, v, 0);
  return out + "\n";
}

const json::value& get(const json::object& o, std::string_view name, std::string_view where) {
  const json::value* v = o.if_contains(name);
  CXR_CHECK(v != nullptr, "{}: no \"{}\"", where, name);
  return *v;
}

const json::object& as_object(const json::value& v, std::string_view where) {
  CXR_CHECK(v.is_object(), "{}: expected a JSON object, got {}", where, json::serialize(v));
  return v.as_object();
}

const json::object& get_object(const json::object& o, std::string_view name, std::string_view where) {
  const json::value& v = get(o, name, where);
  CXR_CHECK(v.is_object(), "{}: \"{}\" must be an object, got {}", where, name, json::serialize(v));
  return v.as_object();
}

const json::array& get_array(const json::object& o, std::string_view name, std::string_view where) {
  const json::value& v = get(o, name, where);
  CXR_CHECK(v.is_array(), "{}: \"{}\" must be an array, got {}", where, name, json::serialize(v));
  return v.as_array();
}

std::int64_t get_int64(const json::object& o, std::string_view name, std::string_view where) {
  const json::value& v = get(o, name, where);
  CXR_CHECK(v.is_int64() || (v.is_uint64() && v.as_uint64() <= std::numeric_limits<std::int64_t>::max()),
            "{}: \"{}\" must be an integer, got {}", where, name, json::serialize(v));
  return v.to_number<std::int64_t>();
}

int get_int(const json::object& o, std::string_view name, std::string_view where) {
  const std::int64_t v = get_int64(o, name, where);
  CXR_CHECK(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(),
            "{}: \"{}\" = {} is out of range", where, name, v);
  return static_cast<int>(v);
}

std::uint64_t get_uint64(const json::object& o, std::string_view name, std::string_view where) {
  const json::value& v = get(o, name, where);
  CXR_CHECK(v.is_uint64() || (v.is_int64() && v.as_int64() >= 0), "{}: \"{}\" must be a non-negative integer, got {}",
            where, name, json::serialize(v));
  return v.to_number<std::uint64_t>();
}

bool get_bool(const json::object& o, std::string_view name, std::string_view where) {
  const json::value& v = get(o, name, where);
  CXR_CHECK(v.is_bool(), "{}: \"{}\" must be true or false, got {}", where, name, json::serialize(v));
  return v.as_bool();
}

json::value exact_double(double x) {
  return json::string(fmt::format("{:a}", x));
}

double to_double(const json::value& v, std::string_view where) {
  if (v.is_string()) {
    const std::string text(v.as_string());
    char* end = nullptr;
    const double x = std::strtod(text.c_str(), &end);
    CXR_CHECK(!text.empty() && end == text.c_str() + text.size(), "{}: expected a number, got \"{}\"", where, text);
    return x;
  }
  CXR_CHECK(v.is_number(), "{}: expected a number, got {}", where, json::serialize(v));
  return v.to_number<double>();
}

double get_double(const json::object& o, std::string_view name, std::string_view where) {
  return to_double(get(o, name, where), fmt::format("{} \"{}\"", where, name));
}

std::string get_string(const json::object& o, std::string_view name, std::string_view where) {
  const json::value& v = get(o, name, where);
  CXR_CHECK(v.is_string(), "{}: \"{}\" must be a string, got {}", where, name, json::serialize(v));
  return std::string(v.as_string());
}

}  // namespace cxr::json_fields
