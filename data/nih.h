// Scanning the NIH ChestX-ray14 share (Wang et al. 2017), mostly adults' normal and
// pneumonia X-rays from one hospital:
//   dir/metadata.csv  image,patient_id,age,sex,view,label,nih_finding_labels,expert_flags,original_size
//   dir/images/<image>
//
// One candidate per row, patient "nih:<patient_id>", age from `age` (years). `label`
// is `normal` or `pneumonia`; the images say nothing about the organism, so pneumonia
// is the label set `pneumonia` (= {bacterial, viral}) in the 4-class scheme and
// other_pneumonia in the 3-class one. Rows with another label, no patient id, an
// unsafe file name or a missing image are skipped with a reason; views other than
// frontal are excluded (the share has none).
#pragma once

#include "data/records.h"

#include <filesystem>

namespace cxr::data {

// Throws cxr::Error when metadata.csv is unreadable or lacks a needed column.
SourceScan scan_nih(const std::filesystem::path& dir, int num_classes);

}  // namespace cxr::data
