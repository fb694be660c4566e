#ifndef DPTRAIN_CBUILDINFO_H
#define DPTRAIN_CBUILDINFO_H

// The git commit this build was made from. deploy/release.sh defines
// DPTRAIN_COMMIT on the compiler's command line (-Xcc -DDPTRAIN_COMMIT=...);
// a C macro is the one way to hand a string to the build without a package
// plugin. Any other build says "unknown".

/// The commit, such as "3f2a9c1" or "3f2a9c1-dirty", or "unknown".
const char *dptrain_build_commit(void);

#endif
