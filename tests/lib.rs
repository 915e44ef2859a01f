//! Behaviour tests live in `behaviour/`; this empty library only anchors the package.
