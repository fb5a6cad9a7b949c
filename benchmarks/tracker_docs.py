def comparison_doc(saved):
    return ""
