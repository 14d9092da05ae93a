// The settings a dataset directory was built with (stats.json "settings", written
// by `cxr data build`): the source folders, split seed and fractions, size, fit.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>

namespace cxr {

// Empty when the directory has no readable stats.json (older or hand-made datasets).
boost::json::object dataset_build_settings(const std::filesystem::path& data_dir);

// The ieee8023 folder the dataset was built from; empty when unknown.
std::filesystem::path dataset_covid_dir(const std::filesystem::path& data_dir);

// The seed of its patient-level split; nothing when unknown.
std::optional<std::uint64_t> dataset_split_seed(const std::filesystem::path& data_dir);

}  // namespace cxr
