// Typed reads of JSON object fields for the files CXR writes and reads back
// (model metadata, training checkpoints): a missing or mistyped field is a
// cxr::Error that says where (`where`, e.g. "net config block 3") and which field.
//
// Boost.JSON (1.81) parses decimal numbers to within an ulp, not exactly; values
// that must read back bit for bit (training checkpoints) are written with
// exact_double as hexadecimal floating-point strings, which get_double also reads.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace cxr::json_fields {

const boost::json::value& get(const boost::json::object& o, std::string_view name, std::string_view where);
const boost::json::object& get_object(const boost::json::object& o, std::string_view name, std::string_view where);
const boost::json::array& get_array(const boost::json::object& o, std::string_view name, std::string_view where);
int get_int(const boost::json::object& o, std::string_view name, std::string_view where);
std::int64_t get_int64(const boost::json::object& o, std::string_view name, std::string_view where);
std::uint64_t get_uint64(const boost::json::object& o, std::string_view name, std::string_view where);
bool get_bool(const boost::json::object& o, std::string_view name, std::string_view where);
// A JSON number, or a string holding a number (as exact_double writes).
double to_double(const boost::json::value& v, std::string_view where);
double get_double(const boost::json::object& o, std::string_view name, std::string_view where);
std::string get_string(const boost::json::object& o, std::string_view name, std::string_view where);

// A hexadecimal floating-point string ("0x1.8p+1"): exact, unlike decimal.
boost::json::value exact_double(double x);

// Indented, for files people read (model cards): containers of scalars that fit
// stay on one line; doubles in shortest decimal form, non-finite ones as null.
std::string pretty_json(const boost::json::value& v);

const boost::json::object& as_object(const boost::json::value& v, std::string_view where);

}  // namespace cxr::json_fields
