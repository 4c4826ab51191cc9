//! Normalisation of a field solution (IEC 60601-2-33 operating modes, whole-phantom SAR, B1+rms, power).
