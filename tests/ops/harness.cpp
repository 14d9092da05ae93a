// test_ops: the op registry's harness. For every op of tests/ops/registry.h it
// registers, as GoogleTest tests:
//   Gradcheck.<op>          finite differences in float64 (tests/gradcheck.h)
//   TorchParity.<case>      forward, gradients (and running statistics) against PyTorch
//   CudaParity.<op>         CUDA against the CPU, forward and backward; skipped, with
//                           the reason, where the backend or a GPU is missing. With
//                           CXR_POISON_EMPTY=1 (ctest sets it) every output starts as
//                           NaN, so an element a kernel forgot to write fails.
// and the checks of the registry itself (Registry.*, Coverage.*).
//
//   test_ops --coverage-markdown   prints docs/op-coverage.md instead of testing
#include "coverage.h"
#include "cuda_parity.h"
#include "cuda_testing.h"
#include "gradcheck.h"
#include "registry.h"
#include "torch_compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

namespace cxr::testing {
namespace {

// Each call's inputs come from a generator seeded by its op and label, so a call
// draws the same values whatever runs before it.
std::uint64_t seed_of(const std::string& op, const std::string& label) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : op + "/" + label) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

std::string source_dir() {
  const char* dir = std::getenv("CXR_SOURCE_DIR");
  if (dir == nullptr || *dir == '\0') throw Error("CXR_SOURCE_DIR is not set: run these tests through ctest");
  return dir;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  CXR_CHECK(in.good(), "cannot read {}", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- modes ----------------------------------------------------------------------------

void check_gradients(const OpSpec& op) {
  for (const OpCall& call : op.gradcheck) {
    SCOPED_TRACE(op.name + " " + call.label);
    Generator gen(seed_of(op.name, call.label));
    const Inputs inputs = call.inputs(gen);
    if (op.pre_activation) {
      NoGradGuard no_grad;
      const Tensor pre = op.pre_activation(call.label, inputs);
      double closest = 1e9;
      for (std::int64_t i = 0; i < pre.numel(); ++i) closest = std::min(closest, std::abs(pre.at(i)));
      ASSERT_GT(closest, 1e-5) << "redraw: a pre-activation sits on the ReLU kink";
    }
    expect_gradients_match(call.run, inputs);
  }
}

void check_devices(const OpSpec& op) {
  CXR_REQUIRE_GPU();
  for (const DeviceCase& d : op.devices) {
    SCOPED_TRACE(op.name + " " + d.call.label);
    Generator gen(seed_of(op.name, d.call.label));
    const Inputs inputs = d.call.inputs(gen);
    if (!d.upstream) {
      expect_cuda_matches_cpu(d.call.run, inputs, d.atol, d.rtol);
      continue;
    }
    Tensor out;
    {
      NoGradGuard no_grad;
      out = d.call.run(inputs);
    }
    const Tensor upstream = d.upstream(out.shape(), out.dtype(), gen);
    const OpResults gpu = run_op_on(Device::cuda(), d.call.run, inputs, upstream);
    const OpResults cpu = run_op_on(Device::cpu(), d.call.run, inputs, upstream);
    expect_results_close(gpu, cpu, std::vector<double>(inputs.size() + 1, d.atol),
                         std::vector<double>(inputs.size() + 1, d.rtol));
  }
}

// Parity with PyTorch 1.13 against the values tests/reference/ops_reference.py wrote
// (the ctest fixture `reference_data` runs it into $CXR_REFERENCE_DIR first).
//
// Everything is float32 on both sides (float64 in the cases named *_f64), so results
// differ by rounding only: the same sums accumulated in a different order (blocked
// GEMM vs MKL-DNN, per-thread partials, fused vs separate passes). Float32's unit
// roundoff is u = 6e-8; a sum of n terms of size ~|t| carries ~sqrt(n) * u * |t| of
// rounding noise per side.

// Op tolerance. Rounding noise scales with the size of the summed terms, which the
// tensor's largest element measures: conv weight gradients reach |g| ~ 40 as sums
// of ~160 products, batch-norm statistics sum 126 values. On these cases torch's own
// float32 results differ from float64 by at most 1e-6 * max(1, max|ref|) (measured;
// ours differ from torch's by as much), so atol = 1e-5 * max(1, max|ref|) leaves a
// 10x margin and rtol 1e-5 (~170 u) covers the rounding of individual large
// elements. A wrong index, a missing term or a wrong formula shows up as errors of
// 1e-2 * max|ref| and more.
// The float64 cases (*_f64) follow the same rule at float64's u = 1.1e-16: ours differ
// from torch's by at most 4.4e-16 (measured, label_set_cross_entropy_weighted_f64's loss
// of 1.6, 2.5 u), so 1e-14 (~90 u) leaves a 20x margin and is still 12 orders of
// magnitude below a formula error.
void expect_op_close(const Tensor& ours, const Tensor& ref, const std::string& what) {
  const double tol = ref.dtype() == DType::F64 ? 1e-14 : 1e-5;
  expect_close_to_torch(ours, ref, tol * std::max(1.0, max_abs(ref)), tol, what);
}

void check_torch_case(const OpSpec& op, const std::string& name) {
  ReferenceCase c(name);
  ASSERT_EQ(c.meta("op"), op.name) << "the reference file of " << name << " is another op's";
  const Tensor out = op.torch_call(c);
  expect_op_close(out, c.file().at("out"), name + " output");
  if (c.file().contains("running_mean_after")) {
    // Running statistics are one blend of the batch mean/variance: same accumulations as above.
    expect_op_close(c.in("running_mean"), c.file().at("running_mean_after"), "running_mean after");
    expect_op_close(c.in("running_var"), c.file().at("running_var_after"), "running_var after");
  }
  ASSERT_FALSE(c.grad_names().empty()) << "the case has no gradients to compare";
  out.backward(c.file().at("R"));
  for (const auto& input : c.grad_names()) {
    ASSERT_TRUE(c.in(input).grad().defined()) << input << " received no gradient";
    expect_op_close(c.in(input).grad(), c.file().at("grad." + input), name + " gradient of " + input);
  }
}

// ---- registration -----------------------------------------------------------------------

class OpTest : public ::testing::Test {
 public:
  explicit OpTest(std::function<void()> body) : body_(std::move(body)) {}
  void TestBody() override { body_(); }

 private:
  std::function<void()> body_;
};

void add_test(const std::string& suite, const std::string& name, std::function<void()> body) {
  ::testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                          [body = std::move(body)]() -> ::testing::Test* { return new OpTest(body); });
}

void register_op_tests() {
  for (const OpSpec& op : all_ops()) {
    if (!op.gradcheck.empty()) add_test("Gradcheck", op.name, [&op] { check_gradients(op); });
    for (const std::string& name : op.torch_cases)
      add_test("TorchParity", name, [&op, name] { check_torch_case(op, name); });
    if (!op.devices.empty()) add_test("CudaParity", op.name, [&op] { check_devices(op); });
  }
}

// ---- the registry's own checks -------------------------------------------------------------

// Every function engine/ops.h declares, in its order.
std::vector<std::string> ops_h_functions() {
  std::istringstream text(read_file(source_dir() + "/engine/ops.h"));
  const std::regex declaration(R"(^(?:Tensor|void) (\w+)\(.*)");
  std::vector<std::string> names;
  std::smatch match;
  for (std::string line; std::getline(text, line);)
    if (std::regex_match(line, match, declaration)) names.push_back(match[1]);
  return names;
}

TEST(Registry, DeclaresEveryOpOfOpsHOnceInItsOrder) {
  std::vector<std::string> declared;
  for (const OpSpec& op : all_ops()) declared.push_back(op.name);
  EXPECT_EQ(declared, ops_h_functions()) << "declare each op of engine/ops.h once, in a tests/ops/<family>.cpp";
}

TEST(Registry, LabelsAreUniqueWithinEachMode) {
  for (const OpSpec& op : all_ops()) {
    std::set<std::string> grad, device, bench;
    for (const OpCall& c : op.gradcheck) EXPECT_TRUE(grad.insert(c.label).second) << op.name << " " << c.label;
    for (const DeviceCase& d : op.devices)
      EXPECT_TRUE(device.insert(d.call.label).second) << op.name << " " << d.call.label;
    for (const OpCall& c : op.bench) EXPECT_TRUE(bench.insert(c.label).second) << op.name << " " << c.label;
    EXPECT_EQ(op.torch_cases.empty(), !op.torch_call) << op.name << ": torch cases need a torch_call and back";
  }
}

// A case ops_reference.py writes but no op claims would never be compared.
TEST(TorchParity, EveryReferenceFileIsClaimedByAnOp) {
  std::set<std::string> claimed;
  for (const OpSpec& op : all_ops()) claimed.insert(op.torch_cases.begin(), op.torch_cases.end());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(reference_dir() + "/ops")) {
    if (entry.path().extension() != ".safetensors") continue;
    ++files;
    EXPECT_TRUE(claimed.count(entry.path().stem().string())) << entry.path() << " is no op's torch case";
  }
  EXPECT_EQ(files, static_cast<int>(claimed.size()));
}

TEST(Coverage, CommittedTableMatchesTheRegistry) {
  EXPECT_EQ(read_file(source_dir() + "/docs/op-coverage.md"), coverage_markdown(all_ops()))
      << "docs/op-coverage.md is stale: regenerate it with `test_ops --coverage-markdown > docs/op-coverage.md`";
}

}  // namespace
}  // namespace cxr::testing

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--coverage-markdown") {
      std::cout << cxr::testing::coverage_markdown(cxr::testing::all_ops());
      return 0;
    }
  ::testing::InitGoogleTest(&argc, argv);
  cxr::testing::register_op_tests();
  return RUN_ALL_TESTS();
}
