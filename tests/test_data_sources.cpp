// Source selection: targets and age groups, the ieee8023 finding table and row
// selection, the Kermany file-name scan and the NIH share's metadata
// (engine/data/{labels,ieee8023,kermany,nih}.h), on synthetic trees.
#include "base/check.h"
#include "data/ieee8023.h"
#include "data/kermany.h"
#include "data/labels.h"
#include "data/nih.h"
#include "data_fixtures.h"
#include "engine/data/text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

using namespace cxr::data;
using cxr::test::TempDir;

namespace {

std::map<std::string, int> reasons(const std::vector<Skip>& list) {
  std::map<std::string, int> m;
  for (const auto& s : list) ++m[s.reason];
  return m;
}

const Candidate* find(const SourceScan& scan, const std::string& source_path) {
  for (const auto& c : scan.candidates)
    if (c.source_path == source_path) return &c;
  return nullptr;
}

}  // namespace

TEST(DataLabels, FindingTableKnowsBothSpellings) {
  auto dx = [](std::string_view f) {
    const auto r = finding_rule(f);
    EXPECT_TRUE(r && r->kind == FindingRule::Kind::diagnosis) << f;
    return r ? r->diagnosis : Diagnosis::normal;
  };
  EXPECT_EQ(dx("COVID-19"), Diagnosis::covid);
  EXPECT_EQ(dx("Pneumonia/Viral/COVID-19"), Diagnosis::covid);
  EXPECT_EQ(dx("COVID-19, ARDS"), Diagnosis::covid);
  EXPECT_EQ(dx("  covid-19 "), Diagnosis::covid);  // case and surrounding spaces do not matter
  EXPECT_EQ(dx("No Finding"), Diagnosis::normal);
  EXPECT_EQ(dx("Streptococcus"), Diagnosis::bacterial);
  EXPECT_EQ(dx("Pneumonia/Bacterial/Staphylococcus/MRSA"), Diagnosis::bacterial);
  EXPECT_EQ(dx("SARS"), Diagnosis::viral);
  EXPECT_EQ(dx("Pneumonia/Viral/Herpes "), Diagnosis::viral);  // upstream has the trailing space
  EXPECT_EQ(dx("Pneumonia/Fungal/Pneumocystis"), Diagnosis::fungal);
  EXPECT_EQ(dx("Pneumonia"), Diagnosis::pneumonia_unspecified);
  EXPECT_EQ(finding_rule("Pneumonia/Lipoid")->kind, FindingRule::Kind::no_class);
  EXPECT_EQ(finding_rule("Tuberculosis")->kind, FindingRule::Kind::no_class);
  EXPECT_EQ(finding_rule("todo")->kind, FindingRule::Kind::unlabelled);
  EXPECT_EQ(finding_rule("")->kind, FindingRule::Kind::unlabelled);
  // Never guessed, even when it looks like a known branch.
  EXPECT_FALSE(finding_rule("Pneumonia/Viral/Mystery"));
  EXPECT_FALSE(finding_rule("COVID-19?"));
}

TEST(DataText, CaseInsensitiveEqualityIsAsciiAndWholeString) {
  EXPECT_TRUE(iequals("X-ray", "x-RAY"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("X-ray", "X-ray "));  // no trimming: callers trim first
  EXPECT_FALSE(iequals("PA", "P"));
  EXPECT_FALSE(iequals("[", "{"));  // '[' + 32 is '{': only A-Z fold
  EXPECT_EQ(lower("AP Supine"), "ap supine");
}

TEST(DataLabels, SchemesMapDiagnosesToTargets) {
  EXPECT_EQ(class_names(4), (std::vector<std::string>{"covid", "normal", "bacterial", "viral"}));
  EXPECT_EQ(class_names(3), (std::vector<std::string>{"covid", "normal", "other_pneumonia"}));
  EXPECT_EQ(target_of(Diagnosis::covid, 4), 0);
  EXPECT_EQ(target_of(Diagnosis::normal, 3), 1);
  EXPECT_EQ(target_of(Diagnosis::viral, 4), 3);
  EXPECT_EQ(target_of(Diagnosis::viral, 3), 2);
  EXPECT_EQ(target_of(Diagnosis::bacterial, 3), 2);
  EXPECT_FALSE(target_of(Diagnosis::fungal, 4));
  EXPECT_EQ(target_of(Diagnosis::fungal, 3), 2);
  EXPECT_EQ(target_of(Diagnosis::pneumonia_unspecified, 4), 4);  // the label set pneumonia
  EXPECT_EQ(target_of(Diagnosis::pneumonia_unspecified, 3), 2);
  EXPECT_EQ(class_index("other_pneumonia", 3), 2);
  EXPECT_FALSE(class_index("other_pneumonia", 4));
  EXPECT_FALSE(class_index("pneumonia", 4));  // a label set, not a class
  EXPECT_THROW(class_names(2), cxr::Error);
  EXPECT_THROW(target_of(Diagnosis::covid, 5), cxr::Error);
}

TEST(DataLabels, TargetTablesOfBothSchemes) {
  // 4 classes: the classes, then the label set pneumonia = {bacterial, viral}.
  EXPECT_EQ(target_names(4), (std::vector<std::string>{"covid", "normal", "bacterial", "viral", "pneumonia"}));
  EXPECT_EQ(num_targets(4), 5);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(target_classes(c, 4), 1u << c) << c;
  EXPECT_EQ(target_classes(4, 4), 0b1100u);
  EXPECT_EQ(target_index("pneumonia", 4), 4);
  EXPECT_EQ(target_index("viral", 4), 3);
  EXPECT_FALSE(target_index("other_pneumonia", 4));
  // 3 classes: no label sets, the targets are the classes.
  EXPECT_EQ(target_names(3), class_names(3));
  EXPECT_EQ(num_targets(3), 3);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(target_classes(c, 3), 1u << c) << c;
  EXPECT_EQ(target_index("other_pneumonia", 3), 2);
  EXPECT_FALSE(target_index("pneumonia", 3));
  EXPECT_THROW(target_classes(5, 4), cxr::Error);
  EXPECT_THROW(target_classes(3, 3), cxr::Error);
  EXPECT_THROW(target_classes(-1, 4), cxr::Error);
  EXPECT_THROW(target_names(2), cxr::Error);
}

TEST(DataLabels, AgesAndAgeGroups) {
  EXPECT_EQ(parse_age_years("55"), 55.0);
  EXPECT_EQ(parse_age_years(" 0.5 "), 0.5);
  EXPECT_FALSE(parse_age_years(""));
  EXPECT_FALSE(parse_age_years("055Y"));
  EXPECT_FALSE(parse_age_years("-1"));
  EXPECT_FALSE(parse_age_years("nan"));
  EXPECT_FALSE(parse_age_years("200"));
  EXPECT_EQ(age_group_of(std::nullopt), AgeGroup::unknown);
  EXPECT_EQ(age_group_of(17.9), AgeGroup::child);
  EXPECT_EQ(age_group_of(18.0), AgeGroup::adult);
  for (AgeGroup g : kAgeGroups) EXPECT_EQ(age_group_from_name(age_group_name(g)), g);
  EXPECT_FALSE(age_group_from_name("elderly"));
  for (Source s : kSources) EXPECT_EQ(source_from_name(source_name(s)), s);
  EXPECT_EQ(source_name(Source::nih), "nih");
}

TEST(DataLabels, FrontalViews) {
  EXPECT_EQ(frontal_view("PA"), "PA");
  EXPECT_EQ(frontal_view("ap supine"), "AP Supine");
  EXPECT_EQ(frontal_view("AP semi erect"), "AP semi erect");
  EXPECT_FALSE(frontal_view("L"));
  EXPECT_FALSE(frontal_view("Axial"));
  EXPECT_FALSE(frontal_view(""));
}

// A metadata.csv with the quirks of the real one: a BOM, CRLF, clinical notes with
// commas, doubled quotes and line breaks, a trailing empty column, and every kind
// of row the selection must leave out.
TEST(DataIeee8023, SelectsFrontalXraysAndReportsEveryRowLeftOut) {
  TempDir dir;
  const auto img = [&](const std::string& name, int id) {
    cxr::test::write_png(dir / ("images/" + name), 8, 8, 1, cxr::test::pattern(8, 8, 1, id));
  };
  for (int i = 0; i < 10; ++i) img(fmt::format("x{}.png", i), i);
  const std::string csv =
      "\xEF\xBB\xBFpatientid,finding,view,modality,folder,filename,clinical_notes,\r\n"
      "1,COVID-19,PA,X-ray,images,x0.png,\"Fever, cough; \"\"ground glass\"\"\r\nbilateral\",\r\n"  // line 2-3
      "2,Pneumonia/Viral/COVID-19,AP Supine,X-ray,images,x1.png,,\r\n"                              // 4
      "3,Streptococcus,PA,X-ray,images,x2.png,,\r\n"                                                // 5
      "4,Pneumocystis,PA,X-ray,images,x3.png,,\r\n"                                                 // 6: fungal
      "5,COVID-19,L,X-ray,images,x4.png,,\r\n"                                                      // 7: lateral
      "6,COVID-19,Axial,CT,images,x5.png,,\r\n"                                                     // 8: CT
      "7,todo,PA,X-ray,images,x6.png,,\r\n"                                                         // 9
      "8,Pneumonia/Viral/Mystery,PA,X-ray,images,x7.png,,\r\n"                                      // 10: unknown
      "9,COVID-19,PA,X-ray,images,missing.png,,\r\n"                                                // 11
      ",COVID-19,PA,X-ray,images,x8.png,,\r\n"                                                      // 12: no patient
      "10,COVID-19,PA,X-ray,images,x0.png,,\r\n"                                                    // 13: same file
      "11,COVID-19,PA,X-ray,images,../x9.png,,\r\n"                                                 // 14
      "12,COVID-19,PA,X-ray,images\r\n"                                                             // 15: truncated
      "13,No Finding,,X-ray,images,x9.png,,\r\n"                                                    // 16: no view
      "14,SARS,AP,X-ray,images,x9.png,,\r\n";                                                       // 17
  cxr::test::write_file(dir / "metadata.csv", csv);

  const auto scan = select_ieee8023(dir.path(), 4);
  ASSERT_EQ(scan.candidates.size(), 4u);
  const auto* c0 = find(scan, "images/x0.png");
  ASSERT_TRUE(c0);
  EXPECT_EQ(c0->label, 0);
  EXPECT_EQ(c0->patient, "ieee8023:1");
  EXPECT_EQ(c0->view, "PA");
  EXPECT_EQ(c0->file, dir / "images/x0.png");
  EXPECT_EQ(find(scan, "images/x1.png")->label, 0);
  EXPECT_EQ(find(scan, "images/x1.png")->view, "AP Supine");
  EXPECT_EQ(find(scan, "images/x2.png")->label, 2);
  EXPECT_EQ(find(scan, "images/x9.png")->label, 3);

  EXPECT_EQ(reasons(scan.excluded), (std::map<std::string, int>{{"finding_without_class", 1},
                                                                {"not_frontal", 1},
                                                                {"not_xray", 1},
                                                                {"unlabelled_finding", 1},
                                                                {"view_not_recorded", 1}}));
  EXPECT_EQ(reasons(scan.skipped), (std::map<std::string, int>{{"duplicate_metadata_row", 1},
                                                               {"invalid_file_name", 1},
                                                               {"malformed_csv_row", 1},
                                                               {"missing_image", 1},
                                                               {"missing_patient_id", 1},
                                                               {"unknown_finding", 1}}));
  for (const auto& s : scan.skipped) {
    if (s.reason == "malformed_csv_row") {
      EXPECT_EQ(s.item, "metadata.csv line 15");
    } else if (s.reason == "unknown_finding") {
      EXPECT_NE(s.detail.find("Pneumonia/Viral/Mystery"), std::string::npos);
    } else if (s.reason == "duplicate_metadata_row") {
      EXPECT_NE(s.detail.find("line 2"), std::string::npos);
    }
  }
  // Two patient ids sharing an image file must share a split.
  ASSERT_EQ(scan.same_patient.size(), 1u);
  EXPECT_EQ(scan.same_patient[0], std::make_pair(std::string("ieee8023:1"), std::string("ieee8023:10")));

  // The 3-class scheme has a class for fungal pneumonia.
  const auto three = select_ieee8023(dir.path(), 3);
  ASSERT_EQ(three.candidates.size(), 5u);
  EXPECT_EQ(find(three, "images/x3.png")->label, 2);
  EXPECT_EQ(find(three, "images/x9.png")->label, 2);
}

TEST(DataIeee8023, AgesComeFromTheAgeColumnAndUnspecifiedPneumoniaIsALabelSet) {
  TempDir dir;
  for (int i = 0; i < 4; ++i)
    cxr::test::write_png(dir / fmt::format("images/a{}.png", i), 8, 8, 1, cxr::test::pattern(8, 8, 1, i));
  cxr::test::write_file(dir / "metadata.csv",
                        "patientid,age,finding,view,modality,filename\n"
                        "1,65,COVID-19,PA,X-ray,a0.png\n"
                        "2,12,Pneumonia,PA,X-ray,a1.png\n"
                        "3,,Aspiration,AP,X-ray,a2.png\n"
                        "4,n/a,No Finding,PA,X-ray,a3.png\n");
  const auto scan = select_ieee8023(dir.path(), 4);
  ASSERT_EQ(scan.candidates.size(), 4u);
  const auto* a0 = find(scan, "images/a0.png");
  ASSERT_TRUE(a0);
  EXPECT_EQ(a0->age, 65.0);
  EXPECT_EQ(a0->age_group, AgeGroup::adult);
  EXPECT_EQ(find(scan, "images/a1.png")->label, 4);  // pneumonia = {bacterial, viral}
  EXPECT_EQ(find(scan, "images/a1.png")->age_group, AgeGroup::child);
  EXPECT_EQ(find(scan, "images/a2.png")->label, 4);
  EXPECT_FALSE(find(scan, "images/a2.png")->age);
  EXPECT_EQ(find(scan, "images/a2.png")->age_group, AgeGroup::unknown);
  EXPECT_FALSE(find(scan, "images/a3.png")->age);  // unparsable: unknown, the row is still used
  EXPECT_EQ(select_ieee8023(dir.path(), 3).candidates[1].label, 2);
}

TEST(DataIeee8023, RowsGivingOneFileTwoClassesAreDropped) {
  TempDir dir;
  cxr::test::write_png(dir / "images/a.png", 8, 8, 1, cxr::test::pattern(8, 8, 1, 1));
  cxr::test::write_file(dir / "metadata.csv",
                        "patientid,finding,view,modality,filename\n"
                        "1,COVID-19,PA,X-ray,a.png\n"
                        "2,Streptococcus,PA,X-ray,a.png\n");
  const auto scan = select_ieee8023(dir.path(), 4);  // no folder column: images/
  EXPECT_TRUE(scan.candidates.empty());
  EXPECT_EQ(reasons(scan.skipped),
            (std::map<std::string, int>{{"conflicting_labels", 1}, {"duplicate_metadata_row", 1}}));
}

TEST(DataIeee8023, MissingMetadataOrColumnsThrow) {
  TempDir dir;
  EXPECT_THROW(select_ieee8023(dir.path(), 4), cxr::Error);
  cxr::test::write_file(dir / "metadata.csv", "patientid,finding,view,filename\n1,COVID-19,PA,a.png\n");
  EXPECT_THROW(select_ieee8023(dir.path(), 4), cxr::Error);  // no modality column
}

TEST(DataKermany, FileNamesGiveClassAndPatient) {
  auto n = parse_kermany_name("IM-0115-0001.jpeg");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->patient, "IM-0115");
  EXPECT_FALSE(n->pneumonia);
  EXPECT_EQ(parse_kermany_name("NORMAL2-IM-0246-0001-0002.jpeg")->patient, "NORMAL2-IM-0246");
  n = parse_kermany_name("person12_bacteria_46.jpeg");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->patient, "bacteria-person12");
  EXPECT_TRUE(n->pneumonia);
  EXPECT_FALSE(n->viral);
  n = parse_kermany_name("person1_virus_6.JPEG");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->patient, "virus-person1");
  EXPECT_TRUE(n->viral);
  EXPECT_EQ(parse_kermany_name("person1649_virus_2850_1.jpeg")->patient, "virus-person1649");
  EXPECT_FALSE(parse_kermany_name("person12_fungus_1.jpeg"));
  EXPECT_FALSE(parse_kermany_name("scan.jpeg"));
  EXPECT_FALSE(parse_kermany_name("IM-0115-0001.txt"));
}

TEST(DataKermany, ScansTheTreeAndReportsOddFiles) {
  TempDir dir;
  const auto root = dir / "chest_xray";
  const auto img = [&](const std::string& rel, int id) {
    cxr::test::write_jpg(root / rel, 8, 8, 1, cxr::test::pattern(8, 8, 1, id));
  };
  img("train/NORMAL/IM-0001-0001.jpeg", 1);
  img("train/NORMAL/NORMAL2-IM-0002-0001.jpeg", 2);
  img("train/PNEUMONIA/person3_bacteria_10.jpeg", 3);
  img("train/PNEUMONIA/person3_virus_11.jpeg", 4);
  img("test/PNEUMONIA/person4_virus_12.jpeg", 5);
  img("test/NORMAL/person5_bacteria_13.jpeg", 6);  // contradicts its folder
  img("test/NORMAL/scan-7.jpeg", 7);               // no pattern
  cxr::test::write_file(root / "train/NORMAL/.DS_Store", "junk");
  // No val/: the Mendeley layout.

  const auto scan = scan_kermany(root, 4);
  ASSERT_EQ(scan.candidates.size(), 5u);
  EXPECT_TRUE(scan.excluded.empty());
  EXPECT_EQ(reasons(scan.skipped),
            (std::map<std::string, int>{
                {"name_contradicts_folder", 1}, {"not_an_image_file", 1}, {"unrecognised_file_name", 1}}));
  const auto* a = find(scan, "train/NORMAL/IM-0001-0001.jpeg");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->label, 1);
  EXPECT_EQ(a->patient, "kermany:IM-0001");
  EXPECT_EQ(a->view, "AP");
  EXPECT_EQ(a->official_split, Split::train);
  EXPECT_FALSE(a->age);  // pediatric, but no age per image
  EXPECT_EQ(a->age_group, AgeGroup::child);
  EXPECT_EQ(find(scan, "train/PNEUMONIA/person3_bacteria_10.jpeg")->label, 2);
  EXPECT_EQ(find(scan, "train/PNEUMONIA/person3_bacteria_10.jpeg")->patient, "kermany:bacteria-person3");
  EXPECT_EQ(find(scan, "train/PNEUMONIA/person3_virus_11.jpeg")->patient, "kermany:virus-person3");
  EXPECT_EQ(find(scan, "test/PNEUMONIA/person4_virus_12.jpeg")->label, 3);
  EXPECT_EQ(find(scan, "test/PNEUMONIA/person4_virus_12.jpeg")->official_split, Split::test);
  EXPECT_EQ(scan_kermany(root, 3).candidates[4].label, 2);  // 3 classes: both subtypes are other_pneumonia

  EXPECT_THROW(scan_kermany(dir / "nowhere", 4), cxr::Error);
}

TEST(DataNih, ScansTheShareWithLabelSetsAgesAndReasons) {
  TempDir dir;
  int id = 0;
  for (const char* name : {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})
    cxr::test::write_jpg(dir / fmt::format("images/{}.jpg", name), 8, 8, 1, cxr::test::pattern(8, 8, 1, id++));
  cxr::test::write_file(dir / "x.jpg", "outside images/");
  const std::string header = "image,patient_id,age,sex,view,label,nih_finding_labels,expert_flags,original_size\r\n";
  cxr::test::write_file(dir / "metadata.csv",
                        header +
                            "a.jpg,1,55,F,PA,normal,No Finding,,1024x1024\r\n"                                 // 2
                            "b.jpg,1,55,F,AP,pneumonia,Pneumonia,,1024x1024\r\n"                               // 3
                            "c.jpg,2,12,M,PA,pneumonia,Infiltration|Pneumonia,Airspace opacity,1024x1024\r\n"  // 4
                            "d.jpg,3,,M,PA,normal,No Finding,,1024x1024\r\n"          // 5: no age
                            "e.jpg,4,58Y,M,PA,Normal,No Finding,,1024x1024\r\n"       // 6: bad age
                            "f.jpg,5,40,M,LL,normal,No Finding,,1024x1024\r\n"        // 7: lateral
                            "g.jpg,6,40,M,PA,effusion,Effusion,,1024x1024\r\n"        // 8
                            "missing.jpg,7,40,M,PA,normal,No Finding,,1024x1024\r\n"  // 9
                            "h.jpg,,40,M,PA,normal,No Finding,,1024x1024\r\n"         // 10
                            "../x.jpg,8,40,M,PA,normal,No Finding,,1024x1024\r\n"     // 11
                            "a.jpg,9,55,F,PA,normal,No Finding,,1024x1024\r\n"        // 12: same image
                            "i.jpg,10,30,F,PA\r\n"                                    // 13: truncated
                            "j.jpg,11,30,F,PA,normal,No Finding,,1024x1024\r\n"       // 14
                            "j.jpg,11,30,F,PA,pneumonia,Pneumonia,,1024x1024\r\n");   // 15: contradicts

  const auto scan = scan_nih(dir.path(), 4);
  ASSERT_EQ(scan.candidates.size(), 5u);
  const auto* a = find(scan, "images/a.jpg");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->source, Source::nih);
  EXPECT_EQ(a->file, dir / "images/a.jpg");
  EXPECT_EQ(a->patient, "nih:1");
  EXPECT_EQ(a->label, 1);
  EXPECT_EQ(a->view, "PA");
  EXPECT_EQ(a->age, 55.0);
  EXPECT_EQ(a->age_group, AgeGroup::adult);
  EXPECT_EQ(find(scan, "images/b.jpg")->label, 4);  // the label set pneumonia
  EXPECT_EQ(find(scan, "images/b.jpg")->view, "AP");
  EXPECT_EQ(find(scan, "images/c.jpg")->age_group, AgeGroup::child);
  EXPECT_FALSE(find(scan, "images/d.jpg")->age);
  EXPECT_EQ(find(scan, "images/d.jpg")->age_group, AgeGroup::unknown);
  EXPECT_FALSE(find(scan, "images/e.jpg")->age);    // "58Y" is not guessed
  EXPECT_EQ(find(scan, "images/e.jpg")->label, 1);  // labels are case-insensitive

  EXPECT_EQ(reasons(scan.excluded), (std::map<std::string, int>{{"not_frontal", 1}}));
  EXPECT_EQ(reasons(scan.skipped), (std::map<std::string, int>{{"conflicting_labels", 1},
                                                               {"duplicate_metadata_row", 2},
                                                               {"invalid_file_name", 1},
                                                               {"malformed_csv_row", 1},
                                                               {"missing_image", 1},
                                                               {"missing_patient_id", 1},
                                                               {"unknown_label", 1}}));
  for (const auto& s : scan.skipped) {
    EXPECT_EQ(s.source, Source::nih);
    if (s.reason == "malformed_csv_row") {
      EXPECT_EQ(s.item, "metadata.csv line 13");
    } else if (s.reason == "unknown_label") {
      EXPECT_NE(s.detail.find("effusion"), std::string::npos);
    } else if (s.reason == "conflicting_labels") {
      EXPECT_EQ(s.item, "images/j.jpg");
    }
  }
  // Two patient ids naming one image must share a split.
  EXPECT_NE(std::find(scan.same_patient.begin(), scan.same_patient.end(),
                      std::make_pair(std::string("nih:1"), std::string("nih:9"))),
            scan.same_patient.end());

  // 3 classes: pneumonia is other_pneumonia.
  const auto three = scan_nih(dir.path(), 3);
  ASSERT_EQ(three.candidates.size(), 5u);
  EXPECT_EQ(find(three, "images/b.jpg")->label, 2);
  EXPECT_EQ(find(three, "images/a.jpg")->label, 1);
}

TEST(DataNih, MissingMetadataOrColumnsThrowNamingTheFile) {
  TempDir dir;
  EXPECT_THROW(scan_nih(dir.path(), 4), cxr::Error);
  cxr::test::write_file(dir / "metadata.csv", "image,patient_id,age,sex,view\na.jpg,1,55,F,PA\n");
  try {
    scan_nih(dir.path(), 4);
    ADD_FAILURE() << "no error for a metadata.csv without a label column";
  } catch (const cxr::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((dir / "metadata.csv").string()), std::string::npos) << what;
    EXPECT_NE(what.find("'label'"), std::string::npos) << what;
  }
}
