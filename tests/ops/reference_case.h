// One PyTorch reference case: the file tests/reference/ops_reference.py wrote to
// $CXR_REFERENCE_DIR/ops/<name>.safetensors, with the op's inputs, "out", the seed
// gradient "R", "grad.<input>" for every differentiable input and the op's parameters
// in the metadata. Inputs that have a "grad.<input>" come with requires_grad.
#pragma once

#include "base/check.h"
#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace cxr::testing {

inline std::string reference_dir() {
  const char* dir = std::getenv("CXR_REFERENCE_DIR");
  if (dir == nullptr || *dir == '\0')
    throw Error(
        "CXR_REFERENCE_DIR is not set: run these tests through ctest, whose fixture "
        "`reference_data` writes the PyTorch reference files there");
  return dir;
}

class ReferenceCase {
 public:
  explicit ReferenceCase(const std::string& name)
      : file_(load_safetensors(reference_dir() + "/ops/" + name + ".safetensors")) {
    for (const auto& [key, t] : file_.tensors) {
      if (key.rfind("grad.", 0) == 0) grad_names_.push_back(key.substr(5));
    }
    for (const auto& [key, t] : file_.tensors) {
      Tensor copy = t.clone();
      if (std::find(grad_names_.begin(), grad_names_.end(), key) != grad_names_.end()) copy.set_requires_grad();
      inputs_[key] = copy;
    }
  }

  const SafetensorsFile& file() const { return file_; }
  const std::vector<std::string>& grad_names() const { return grad_names_; }
  Tensor& in(const std::string& name) {
    CXR_CHECK(inputs_.count(name), "{} has no tensor '{}'", file_.path, name);
    return inputs_[name];
  }
  Tensor optional(const std::string& name) { return inputs_.count(name) ? inputs_[name] : Tensor(); }
  const std::string& meta(const std::string& key) const {
    auto it = file_.metadata.find(key);
    CXR_CHECK(it != file_.metadata.end(), "{} has no metadata '{}'", file_.path, key);
    return it->second;
  }
  int meta_int(const std::string& key) const { return std::stoi(meta(key)); }
  double meta_double(const std::string& key) const { return std::stod(meta(key)); }
  Shape meta_shape(const std::string& key) const {
    Shape shape;
    std::stringstream ss(meta(key));
    for (std::string part; std::getline(ss, part, ',');) shape.push_back(std::stoll(part));
    return shape;
  }
  std::vector<int> labels(const std::string& name) {
    std::vector<int> labels;
    for (double v : in(name).to_vector()) labels.push_back(static_cast<int>(v));
    return labels;
  }
  // Label-set masks are stored as float64, which holds every uint32 exactly.
  std::vector<std::uint32_t> masks(const std::string& name) {
    std::vector<std::uint32_t> masks;
    for (double v : in(name).to_vector()) masks.push_back(static_cast<std::uint32_t>(v));
    return masks;
  }

 private:
  SafetensorsFile file_;
  std::vector<std::string> grad_names_;
  std::map<std::string, Tensor> inputs_;
};

}  // namespace cxr::testing
