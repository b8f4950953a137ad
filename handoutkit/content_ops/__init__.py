"""Content operations around the library's topics: bringing a clinic's own handouts in
(`import`), the translators' exchange (`translate export|import`, XLIFF 2.1) and clinical
review on the record (`review`, `diff`).

Like the rest of the engine these modules never print and never exit: they return values
and raise `HandoutsError`s, and `handoutkit.commands.content` turns them into output.
"""
