// The JSON form of an inspection (models/inspection.h), as `cxr inspect --json`
// prints it and the web app's Inside page reads it. Tensors themselves are not in
// it (their montages are PNG files); every statistic is.
//
//   {"objective": "score" | "loss", "class": name, "objective_value": J,
//    "logits": [...], "probabilities": {name: p, ...},
//    "layers": [{"name", "shape": [...], "activation": stats, "gradient": stats}],
//    "parameters": [{"name", "shape": [...], "value": stats, "gradient": stats}]}
//   stats = {"count", "nonfinite", "mean", "std", "min", "max", "zero_fraction",
//            "norm", "histogram": {"lo", "hi", "counts": [...]}}
#pragma once

#include "models/inspection.h"

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace cxr {

boost::json::object to_json(const ValueStats& stats);
// class_names: the model's, one per logit.
boost::json::object to_json(const Inspection& inspection, const std::vector<std::string>& class_names);

}  // namespace cxr
