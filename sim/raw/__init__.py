"""Raw platform exports: native row shapes, the lazy export sequence, and dirt."""
