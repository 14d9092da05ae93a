#include "coverage.h"

#include <sstream>

namespace cxr::testing {
namespace {

// "yes (n)" for n registry calls, and/or the file that still holds checks, or "no".
std::string cell(std::size_t n, const std::string& elsewhere) {
  if (n > 0) return "yes (" + std::to_string(n) + ")" + (elsewhere.empty() ? "" : ", more in " + elsewhere);
  if (!elsewhere.empty()) return "in " + elsewhere;
  return "no";
}

}  // namespace

std::string coverage_markdown(const std::vector<OpSpec>& ops) {
  std::ostringstream md;
  md << "# Op coverage\n\n"
        "Generated from the op registry (tests/ops/) by `test_ops --coverage-markdown`; the test\n"
        "`Coverage.CommittedTableMatchesTheRegistry` fails when this file differs, so regenerate it\n"
        "(`build/tests/test_ops --coverage-markdown > docs/op-coverage.md`) after changing the registry.\n\n"
        "One row per op of engine/ops.h; a cell counts the registry's calls (shapes, options,\n"
        "dtypes) that check it, names the test file that still checks it (or checks more of it)\n"
        "outside the registry, or says no. n/a: the in-place ops run outside autograd and have\n"
        "no backward.\n\n"
        "- torch: PyTorch 1.13 reference values (tests/reference/ops_reference.py), CPU\n"
        "- gradcheck: finite differences in float64 on the CPU (tests/gradcheck.h)\n"
        "- CUDA = CPU: the CUDA backend against the CPU backend (skipped without a GPU)\n"
        "- bench: bench/bench_ops (Google Benchmark), float32, on the CPU and on CUDA when present\n\n"
        "| op | torch forward | torch backward | gradcheck | CUDA = CPU forward | CUDA = CPU backward "
        "| bench forward | bench forward + backward |\n"
        "|---|---|---|---|---|---|---|---|\n";
  for (const OpSpec& op : ops) {
    auto backward = [&](std::size_t n, const std::string& elsewhere) {
      return op.has_backward ? cell(n, elsewhere) : std::string("n/a");
    };
    md << "| " << op.name << " | " << cell(op.torch_cases.size(), "") << " | " << backward(op.torch_cases.size(), "")
       << " | " << backward(op.gradcheck.size(), op.elsewhere.gradcheck) << " | "
       << cell(op.devices.size(), op.elsewhere.devices) << " | " << backward(op.devices.size(), op.elsewhere.devices)
       << " | " << cell(op.bench.size(), "") << " | " << backward(op.bench.size(), "") << " |\n";
  }
  md << "\nNotes:\n";
  for (const OpSpec& op : ops)
    if (!op.note.empty()) md << "- " << op.name << ": " << op.note << "\n";
  return md.str();
}

}  // namespace cxr::testing
