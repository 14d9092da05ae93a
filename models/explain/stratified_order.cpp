#include "models/explain/stratified_order.h"

#include <map>

namespace cxr {

std::vector<std::int64_t> stratified_order(const std::vector<std::int64_t>& order,
                                           const std::function<std::int64_t(std::int64_t)>& stratum) {
  std::map<std::int64_t, std::vector<std::int64_t>> strata;
  for (std::int64_t i : order) strata[stratum(i)].push_back(i);
  std::vector<std::int64_t> out;
  out.reserve(order.size());
  for (std::size_t round = 0; out.size() < order.size(); ++round)
    for (const auto& [key, members] : strata)
      if (round < members.size()) out.push_back(members[round]);
  return out;
}

}  // namespace cxr
